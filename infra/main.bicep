// Augeo Platform API: everything one environment needs, in one resource group.
// Deployed by `azd up` (infra/main.parameters.json, dev sizes) or by the
// pipeline (infra/main.prod.parameters.json). Every resource is declared in a
// local module under modules/ so pycep-parser and Checkov can read all of it.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('Environment name (azd: AZURE_ENV_NAME); part of every resource name.')
param environmentName string

@minLength(1)
@description('Azure region of the resource group and the regional resources (must offer Flex Consumption and Azure Managed Redis).')
param location string

@description('Object id of the deploying user or pipeline principal (azd: AZURE_PRINCIPAL_ID); it may read Key Vault secrets for migrations. Empty to skip.')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param deployerPrincipalType string = 'User'

@description('Name of the deployer in Microsoft Entra ID (azd: AUGEO_DEPLOYER_PRINCIPAL_NAME): user principal name of a user, display name of a service principal. With deployerPrincipalId it becomes the PostgreSQL Entra administrator, so the post-provision step can create the database role of the app identity.')
param deployerPrincipalName string = ''

@secure()
@minLength(32)
@description('JWT_SECRET_KEY: at least 32 bytes, e.g. python3 -c "import secrets; print(secrets.token_urlsafe(48))".')
param jwtSecretKey string

@minLength(1)
param postgresAdminLogin string = 'augeoadmin'

@secure()
@minLength(12)
@description('PostgreSQL administrator password (12 to 128 characters from three of: upper, lower, digits, symbols).')
param postgresAdminPassword string

@description('PostgreSQL compute SKU: Standard_B1ms (dev) ... Standard_D2ds_v5 (prod). The connection budget test reads it.')
param postgresSkuName string

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string

@minValue(32)
param postgresStorageSizeGB int = 32

param postgresHighAvailability bool = false
param postgresGeoRedundantBackup bool = false

@minValue(7)
@maxValue(35)
param postgresBackupRetentionDays int = 7

@description('PostgreSQL network access: allow Azure services (needed by Flex Consumption without VNet integration).')
param postgresAllowAzureServices bool = true

@description('PostgreSQL network access: extra firewall rules [{ name, startIpAddress, endIpAddress }] (office, bastion).')
param postgresFirewallRules array = []

@description('Azure Managed Redis SKU: Balanced_B0 is the smallest.')
param redisSkuName string

param redisHighAvailability bool = true

@minValue(1)
@maxValue(1000)
@description('Maximum on-demand instances of the HTTP scale group. (maximumInstanceCount + alwaysReadyInstances + 1) x (dbPoolSize + dbMaxOverflow) must stay within 80 % of the PostgreSQL SKU user connections.')
param maximumInstanceCount int

@minValue(0)
param alwaysReadyInstances int

@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Zone-redundant Flex Consumption plan (the region must support it).')
param functionZoneRedundant bool = false

@minValue(1)
@maxValue(20)
@description('DB_POOL_SIZE: pooled PostgreSQL connections per worker process.')
param dbPoolSize int = 2

@minValue(0)
@maxValue(20)
@description('DB_MAX_OVERFLOW: extra connections per worker process beyond the pool.')
param dbMaxOverflow int = 2

@description('Origins of the admin and donor web apps, e.g. ["https://admin.example.org"]. Applied by the platform (siteConfig.cors).')
param corsAllowedOrigins array = []

@description('FRONTEND_ADMIN_URL: target of links in emails to staff.')
param frontendAdminUrl string

@description('FRONTEND_DONOR_URL: target of links in emails to donors.')
param frontendDonorUrl string

@allowed([
  'DEBUG'
  'INFO'
  'WARNING'
  'ERROR'
])
param logLevel string = 'INFO'

@allowed([
  'managedIdentity'
  'connectionString'
])
@description('How the app authenticates to Communication Services: ACS_ENDPOINT with the managed identity, or ACS_CONNECTION_STRING from Key Vault.')
param emailAuth string = 'managedIdentity'

@description('Communication Services data location, e.g. "United States" or "Europe".')
param emailDataLocation string = 'United States'

param emailSenderDisplayName string = 'Augeo'

@allowed([
  'Standard_ZRS'
  'Standard_LRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Function storage redundancy: Standard_ZRS unless the region has no availability zones.')
param storageSkuName string = 'Standard_ZRS'

@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'augeo-platform-api'
}
var databaseName = 'augeo'
var deploymentContainerName = 'app-package'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-augeo-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-augeo-${resourceToken}'
    applicationInsightsName: 'appi-augeo-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'staugeo${take(resourceToken, 13)}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    skuName: storageSkuName
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-augeo-${take(resourceToken, 13)}'
    location: location
    tags: tags
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: 'psql-augeo-${resourceToken}'
    location: location
    tags: tags
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    databaseName: databaseName
    highAvailability: postgresHighAvailability
    geoRedundantBackup: postgresGeoRedundantBackup
    backupRetentionDays: postgresBackupRetentionDays
    allowAzureServices: postgresAllowAzureServices
    firewallRules: postgresFirewallRules
    entraAdministratorObjectId: empty(deployerPrincipalName) ? '' : deployerPrincipalId
    entraAdministratorName: deployerPrincipalName
    entraAdministratorType: deployerPrincipalType
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  scope: rg
  params: {
    name: 'amr-augeo-${resourceToken}'
    location: location
    tags: tags
    skuName: redisSkuName
    highAvailability: redisHighAvailability
  }
}

module email 'modules/email.bicep' = {
  name: 'email'
  scope: rg
  params: {
    communicationServiceName: 'acs-augeo-${resourceToken}'
    emailServiceName: 'ecs-augeo-${resourceToken}'
    tags: tags
    dataLocation: emailDataLocation
    senderDisplayName: emailSenderDisplayName
  }
}

module secrets 'modules/keyvault-secrets.bicep' = {
  name: 'keyvault-secrets'
  scope: rg
  params: {
    vaultName: keyVault.outputs.name
    jwtSecretKey: jwtSecretKey
    postgresHost: postgres.outputs.fqdn
    postgresDatabase: postgres.outputs.databaseName
    postgresLogin: postgresAdminLogin
    postgresPassword: postgresAdminPassword
    redisName: redis.outputs.name
    storeAcsConnectionString: (emailAuth == 'connectionString')
    communicationServiceName: email.outputs.communicationServiceName
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    vaultName: keyVault.outputs.name
    jwtSecretName: secrets.outputs.jwtSecretName
    redisUrlSecretName: secrets.outputs.redisUrlSecretName
    acsConnectionStringSecretName: secrets.outputs.acsConnectionStringSecretName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    communicationServiceName: email.outputs.communicationServiceName
    grantEmailRole: (emailAuth == 'managedIdentity')
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    planName: 'plan-augeo-${resourceToken}'
    appName: 'func-augeo-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyInstances: alwaysReadyInstances
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    instanceMemoryMB: instanceMemoryMB
    zoneRedundant: functionZoneRedundant
    corsAllowedOrigins: corsAllowedOrigins
    frontendAdminUrl: frontendAdminUrl
    frontendDonorUrl: frontendDonorUrl
    logLevel: logLevel
    dbPoolSize: dbPoolSize
    dbMaxOverflow: dbMaxOverflow
    postgresHost: postgres.outputs.fqdn
    postgresPort: postgres.outputs.port
    postgresDatabase: postgres.outputs.databaseName
    databaseRole: identity.outputs.name
    jwtSecretUri: secrets.outputs.jwtSecretUri
    redisUrlSecretUri: secrets.outputs.redisUrlSecretUri
    emailAuth: emailAuth
    acsEndpoint: email.outputs.endpoint
    acsConnectionStringSecretUri: secrets.outputs.acsConnectionStringSecretUri
    emailSender: email.outputs.senderAddress
  }
  // The identity's roles (Key Vault, storage, telemetry) exist before the app
  // starts, so its first start resolves the Key Vault references.
  dependsOn: [
    roles
  ]
}

// Read by azd (as environment values) and by the pipeline and hooks.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.url
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output POSTGRES_SERVER_NAME string = postgres.outputs.name
output POSTGRES_HOST string = postgres.outputs.fqdn
output POSTGRES_PORT int = postgres.outputs.port
output POSTGRES_PGBOUNCER_ENABLED bool = postgres.outputs.pgBouncerEnabled
output REDIS_HOST string = redis.outputs.hostName
output ACS_ENDPOINT string = email.outputs.endpoint
output EMAIL_SENDER string = email.outputs.senderAddress
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
// The post-provision step makes the identity's database role as the Entra administrator.
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output POSTGRES_ENTRA_ADMIN_NAME string = postgres.outputs.entraAdministratorName
