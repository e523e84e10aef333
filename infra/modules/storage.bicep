// The function app's storage: host storage (AzureWebJobsStorage, reached with
// the managed identity) and the blob container Flex Consumption deploys from.
// No shared keys, no anonymous blob access, TLS 1.2.

param name string
param location string
param tags object = {}
param deploymentContainerName string

@description('Zone-redundant by default; use Standard_LRS only in a region without availability zones.')
@allowed([
  'Standard_ZRS'
  'Standard_LRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string = 'Standard_ZRS'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  // checkov:skip=CKV_AZURE_35: Flex Consumption without VNet integration reaches its host storage and deployment container over the public endpoint from shared outbound IPs; a deny-by-default firewall stops the app. Access is Entra ID only (allowSharedKeyAccess false) and anonymous blob access is off.
  // checkov:skip=CKV_AZURE_206: geo-replication protects nothing here: the account holds only re-creatable state (the deployment package, timer leases, host keys) and the app runs in one region; it is zone-redundant (Standard_ZRS) by default.
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35: the public endpoint must stay reachable; no shared keys and no anonymous access are allowed on it.
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
