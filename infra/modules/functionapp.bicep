// Flex Consumption plan and the Linux function app.
// Runtime (Python 3.11), deployment storage and scaling live in
// functionAppConfig; on Flex the app settings FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE, WEBSITE_CONTENTSHARE,
// SCM_DO_BUILD_DURING_DEPLOYMENT, ... must not be set (tests/integration/test_infra.py
// keeps the list). Secrets are Key Vault references resolved with the
// user-assigned identity (keyVaultReferenceIdentity). PostgreSQL takes no
// secret at all: the app signs in as its identity's database role with a
// Microsoft Entra token (DB_AUTH=entra), and the retention timer as the
// retention identity's role (RETENTION_DATABASE_URL). CORS is the platform's:
// the host answers preflights and adds Allow-Origin/-Credentials from
// siteConfig.cors; the same origins reach the app as CORS_ORIGINS.

param planName string
param appName string
param location string
param tags object = {}

param identityId string
param identityClientId string

param storageAccountName string
param deploymentContainerUrl string
param applicationInsightsConnectionString string

@description('Maximum on-demand instances of the HTTP scale group; instances x per-process pool must fit the PostgreSQL connection budget.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Always-ready instances for the HTTP triggers (0 = scale to zero).')
@minValue(0)
param alwaysReadyInstances int

@description('Concurrent HTTP requests one instance takes before the platform adds another.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Spread instances over availability zones (the region must support zone-redundant Flex Consumption).')
param zoneRedundant bool = true

@description('Origins of the web apps. One list for both: siteConfig.cors (the host\'s CORS) and the app setting CORS_ORIGINS.')
param corsAllowedOrigins array

@description('Custom domain of the API, e.g. api.example.org (empty: none). Its DNS records must exist first: see infra/README.md.')
param customDomain string = ''

param frontendAdminUrl string
param frontendDonorUrl string

@allowed([
  'DEBUG'
  'INFO'
  'WARNING'
  'ERROR'
])
param logLevel string = 'INFO'

@minValue(1)
@maxValue(20)
param dbPoolSize int

@minValue(0)
@maxValue(20)
param dbMaxOverflow int

@allowed([
  'ES256'
  'EdDSA'
  'RS256'
])
param jwtAlgorithm string = 'ES256'

param postgresHost string
@description('PgBouncer (6432) where the tier has it, else 5432.')
param postgresPort int
param postgresDatabase string
@description('The database role of the app: its managed identity, made by the post-provision step.')
param databaseRole string

@description('The retention job\'s managed identity; its database role alone may purge the audit log.')
param retentionIdentityId string
param retentionIdentityClientId string
@description('The database role of the retention job: its managed identity, made by the post-provision step.')
param retentionDatabaseRole string

param jwtSigningKeysSecretUri string
param dataEncryptionKeysSecretUri string
param redisUrlSecretUri string

@allowed([
  'managedIdentity'
  'connectionString'
])
param emailAuth string = 'managedIdentity'

param acsEndpoint string
param acsConnectionStringSecretUri string = ''
param emailSender string

var platformSettings = [
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storageAccountName
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsightsConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
]

var applicationSettings = [
  {
    name: 'ENVIRONMENT'
    value: 'production'
  }
  {
    name: 'LOG_LEVEL'
    value: logLevel
  }
  {
    name: 'DATABASE_URL'
    value: 'postgresql+pg8000://${uriComponent(databaseRole)}@${postgresHost}:${postgresPort}/${postgresDatabase}'
  }
  {
    name: 'DB_AUTH'
    value: 'entra'
  }
  {
    name: 'DB_ENTRA_CLIENT_ID'
    value: identityClientId
  }
  {
    name: 'DB_SSL'
    value: 'verify-full'
  }
  {
    name: 'RETENTION_DATABASE_URL'
    value: 'postgresql+pg8000://${uriComponent(retentionDatabaseRole)}@${postgresHost}:${postgresPort}/${postgresDatabase}'
  }
  {
    name: 'DB_RETENTION_ROLE'
    value: retentionDatabaseRole
  }
  {
    name: 'DB_RETENTION_ENTRA_CLIENT_ID'
    value: retentionIdentityClientId
  }
  {
    name: 'DB_POOL_SIZE'
    value: string(dbPoolSize)
  }
  {
    name: 'DB_MAX_OVERFLOW'
    value: string(dbMaxOverflow)
  }
  {
    name: 'REDIS_URL'
    value: '@Microsoft.KeyVault(SecretUri=${redisUrlSecretUri})'
  }
  {
    name: 'JWT_ALGORITHM'
    value: jwtAlgorithm
  }
  {
    name: 'JWT_SIGNING_KEYS'
    value: '@Microsoft.KeyVault(SecretUri=${jwtSigningKeysSecretUri})'
  }
  {
    name: 'DATA_ENCRYPTION_KEYS'
    value: '@Microsoft.KeyVault(SecretUri=${dataEncryptionKeysSecretUri})'
  }
  {
    name: 'CORS_ORIGINS'
    value: join(corsAllowedOrigins, ',')
  }
  {
    name: 'FRONTEND_ADMIN_URL'
    value: frontendAdminUrl
  }
  {
    name: 'FRONTEND_DONOR_URL'
    value: frontendDonorUrl
  }
  {
    name: 'EMAIL_BACKEND'
    value: 'acs'
  }
  {
    name: 'EMAIL_SENDER'
    value: emailSender
  }
]

var emailCredentialSettings = (emailAuth == 'connectionString') ? [
  {
    name: 'ACS_CONNECTION_STRING'
    value: '@Microsoft.KeyVault(SecretUri=${acsConnectionStringSecretUri})'
  }
] : [
  {
    name: 'ACS_ENDPOINT'
    value: acsEndpoint
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  // checkov:skip=CKV_AZURE_17: browsers and other Augeo services call this public API with bearer tokens; they present no client certificates.
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
      '${retentionIdentityId}': {}
    }
  }
  // checkov:skip=CKV_AZURE_222: the API is public by design (the admin and donor web apps call it from browsers); there is no private network in front of it.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales by itself; the floor is alwaysReadyInstances (a parameter: 0 in dev, 2 in prod), which Checkov does not read.
  // checkov:skip=CKV_AZURE_213: App Service health check (healthCheckPath) is an App Service plan feature that Flex Consumption does not use; GET /health exists for probes and monitoring.
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      cors: {
        allowedOrigins: corsAllowedOrigins
        supportCredentials: true
      }
      appSettings: concat(platformSettings, applicationSettings, emailCredentialSettings)
    }
    functionAppConfig: {
      runtime: {
        name: 'python'
        version: '3.11'
      }
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: (alwaysReadyInstances > 0) ? [
          {
            name: 'http'
            instanceCount: alwaysReadyInstances
          }
        ] : []
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
    }
  }
}

// No FTP and no basic-auth publishing: code goes to the deployment container
// with Entra ID (azd, the pipeline's OIDC login).
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

// The custom domain, first step: bound without TLS, then a managed certificate
// issued for it (site-scoped: Flex Consumption keeps certificates on the app).
// main.bicep then binds it again with SNI (modules/custom-domain-tls.bicep):
// one template cannot declare the same binding twice.
var customDomainName = empty(customDomain) ? 'no-custom-domain' : customDomain

resource customDomainBinding 'Microsoft.Web/sites/hostNameBindings@2024-04-01' = if (!empty(customDomain)) {
  parent: app
  name: customDomainName
  properties: {
    siteName: app.name
    hostNameType: 'Verified'
    customHostNameDnsRecordType: 'CName'
    sslState: 'Disabled'
  }
}

resource customDomainCertificate 'Microsoft.Web/sites/certificates@2024-11-01' = if (!empty(customDomain)) {
  parent: app
  name: customDomainName
  location: location
  tags: tags
  properties: {
    canonicalName: customDomain
  }
  dependsOn: [
    customDomainBinding
  ]
}

output name string = app.name
output id string = app.id
output defaultHostName string = app.properties.defaultHostName
output url string = 'https://${app.properties.defaultHostName}'
// DNS proves the custom domain is ours: TXT asuid.<domain> holds this value.
output customDomainVerificationId string = app.properties.customDomainVerificationId
output customDomainCertificateThumbprint string = empty(customDomain) ? '' : customDomainCertificate.properties.thumbprint
