// Key Vault holding the secrets the app reads through Key Vault references.
// Azure RBAC (no access policies), soft delete and purge protection.

param name string
param location string
param tags object = {}

@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  // checkov:skip=CKV_AZURE_109: Flex Consumption without VNet integration reaches Key Vault from shared outbound IPs, and App Service is not a "trusted service" for the vault firewall; a deny-by-default firewall would break every Key Vault reference. Access is RBAC-only (no access policies) and limited to the app identity and the deployer.
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109: no private endpoint without VNet integration, so public network access must stay on for Key Vault references to resolve.
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
