// PostgreSQL Flexible Server 16 with the application database.
// TLS is required (require_secure_transport=on, TLS 1.2 minimum). The built-in
// PgBouncer (port 6432) is enabled where the tier supports it: General Purpose
// and Memory Optimized; Burstable has no PgBouncer, so the app connects to 5432.
// Sign-in: Microsoft Entra ID for the app (its managed identity, no password)
// and password for the administrator, who owns the schema and runs the
// migrations. The deployer is an Entra administrator, so the post-provision
// step can create the app identity's role (pgaadauth_create_principal_with_oid).
// Server operations on one flexible server must not overlap (the service
// answers "ServerBusy"), so configurations, database, administrator and
// firewall rules are chained with dependsOn and @batchSize(1).

param name string
param location string
param tags object = {}

@description('Compute SKU, e.g. Standard_B1ms (Burstable) or Standard_D2ds_v5 (GeneralPurpose).')
param skuName string

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string

param storageSizeGB int = 32
param administratorLogin string

@secure()
param administratorLoginPassword string

param databaseName string

@description('Zone-redundant high availability (not available on Burstable).')
param highAvailability bool = false

param geoRedundantBackup bool = false

@minValue(7)
@maxValue(35)
param backupRetentionDays int = 7

@description('Allow connections from any Azure service (the 0.0.0.0 rule). Flex Consumption without VNet integration has no fixed outbound IPs, so the app needs it.')
param allowAzureServices bool = true

@description('Extra firewall rules: [{ name, startIpAddress, endIpAddress }].')
param firewallRules array = []

@description('Object id of the Microsoft Entra administrator (the deployer); empty for none.')
param entraAdministratorObjectId string = ''

@description('Its name as a database role: user principal name of a user, display name of a service principal.')
param entraAdministratorName string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param entraAdministratorType string = 'User'

var pgBouncerEnabled = (skuTier == 'GeneralPurpose') || (skuTier == 'MemoryOptimized')

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: '16'
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Enabled'
      tenantId: tenant().tenantId
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: backupRetentionDays
      geoRedundantBackup: geoRedundantBackup ? 'Enabled' : 'Disabled'
    }
    highAvailability: {
      mode: (highAvailability && (skuTier != 'Burstable')) ? 'ZoneRedundant' : 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
    createMode: 'Default'
  }
}

resource requireSecureTransport 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: 'on'
    source: 'user-override'
  }
}

resource minimumTlsVersion 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'ssl_min_protocol_version'
  properties: {
    value: 'TLSv1.2'
    source: 'user-override'
  }
  dependsOn: [
    requireSecureTransport
  ]
}

resource pgBouncer 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = if (pgBouncerEnabled) {
  parent: server
  name: 'pgbouncer.enabled'
  properties: {
    value: 'true'
    source: 'user-override'
  }
  dependsOn: [
    minimumTlsVersion
  ]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    minimumTlsVersion
    pgBouncer
  ]
}

resource entraAdministrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = if (!empty(entraAdministratorObjectId)) {
  parent: server
  name: entraAdministratorObjectId
  properties: {
    principalName: entraAdministratorName
    principalType: entraAdministratorType
    tenantId: tenant().tenantId
  }
  dependsOn: [
    database
  ]
}

resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (allowAzureServices) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    database
    entraAdministrator
  ]
}

@batchSize(1)
resource extraRules 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = [for rule in firewallRules: {
  parent: server
  name: rule.name
  properties: {
    startIpAddress: rule.startIpAddress
    endIpAddress: rule.endIpAddress
  }
  dependsOn: [
    database
    allowAzure
  ]
}]

output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
output pgBouncerEnabled bool = pgBouncerEnabled
output port int = pgBouncerEnabled ? 6432 : 5432
output entraAdministratorName string = entraAdministratorName
