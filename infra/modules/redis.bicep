// Azure Managed Redis (Microsoft.Cache/redisEnterprise): TLS only
// (clientProtocol 'Encrypted', TLS 1.2 minimum) on port 10000.
// EnterpriseCluster policy gives one endpoint, so a plain (non-cluster) Redis
// client works; database 0 is the only one. Access keys stay enabled because
// the app authenticates with the key in REDIS_URL (kept in Key Vault).
// NoEviction: sessions and rate-limit counters must not be evicted silently;
// every key the app writes carries a TTL.
// Sessions live only here, so losing the data signs everyone out: the
// database is persisted (append-only file, written every second) and survives
// a restart or the loss of its nodes; prod adds high availability (a replica).

param name string
param location string
param tags object = {}

@description('Managed Redis SKU, e.g. Balanced_B0 (smallest) or Balanced_B1.')
param skuName string

param highAvailability bool = true

resource cluster 'Microsoft.Cache/redisEnterprise@2025-04-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: highAvailability ? 'Enabled' : 'Disabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-04-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'EnterpriseCluster'
    evictionPolicy: 'NoEviction'
    accessKeysAuthentication: 'Enabled'
    persistence: {
      aofEnabled: true
      aofFrequency: '1s'
      rdbEnabled: false
    }
  }
}

output name string = cluster.name
output hostName string = cluster.properties.hostName
output port int = database.properties.port
