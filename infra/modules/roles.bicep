// Role assignments, each scoped to the one resource it is about:
// - app identity: Storage Blob Data Owner on the storage account (host storage
//   and the deployment container, identity-based AzureWebJobsStorage),
//   Key Vault Secrets User on each secret it references (jwt-signing-keys, data-encryption-keys,
//   redis-url, acs-connection-string when used), never on the vault: the
//   vault also holds the database owner's URL, for the deployment only,
//   Monitoring Metrics Publisher on Application Insights (local auth is off),
//   Communication and Email Service Owner on Communication Services (sending
//   email with Entra ID; there is no narrower built-in role for it).
// - deployer (azd user or pipeline principal): Key Vault Secrets User on the
//   vault, so the post-provision step can read the owner's database URL for
//   the migrations.

param appPrincipalId string
param storageAccountName string
param vaultName string

@description('The secrets the app reads through Key Vault references, each granted on its own.')
param jwtSigningKeysSecretName string
param dataEncryptionKeysSecretName string
param redisUrlSecretName string

@description('Empty when the app sends email with its managed identity (no ACS connection string).')
param acsConnectionStringSecretName string = ''
param applicationInsightsName string
param communicationServiceName string
param grantEmailRole bool = true

@description('Object id of the deployer; empty to skip its role assignment.')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param deployerPrincipalType string = 'User'

var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'
var communicationAndEmailServiceOwner = '09976791-48a7-449e-bb21-39d1a415f350'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource jwtSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: jwtSigningKeysSecretName
}

resource dataEncryptionKeysSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: dataEncryptionKeysSecretName
}

resource redisUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: redisUrlSecretName
}

resource acsConnectionStringSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = if (!empty(acsConnectionStringSecretName)) {
  parent: vault
  name: acsConnectionStringSecretName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource communicationService 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServiceName
}

resource appStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
  }
}

resource appDataEncryptionKeysSecret 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dataEncryptionKeysSecret.id, appPrincipalId, keyVaultSecretsUser)
  scope: dataEncryptionKeysSecret
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

resource appJwtSecret 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jwtSecret.id, appPrincipalId, keyVaultSecretsUser)
  scope: jwtSecret
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

resource appRedisUrlSecret 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(redisUrlSecret.id, appPrincipalId, keyVaultSecretsUser)
  scope: redisUrlSecret
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

resource appAcsConnectionStringSecret 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(acsConnectionStringSecretName)) {
  name: guid(acsConnectionStringSecret.id, appPrincipalId, keyVaultSecretsUser)
  scope: acsConnectionStringSecret
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

resource appTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

resource appEmail 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantEmailRole) {
  name: guid(communicationService.id, appPrincipalId, communicationAndEmailServiceOwner)
  scope: communicationService
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', communicationAndEmailServiceOwner)
  }
}

resource deployerSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}
