// The API's custom domain, second step (the first is in functionapp.bicep):
// the same host name binding again, now with SNI and the managed certificate.
// A module of its own because one template cannot declare a resource twice.

param appName string
param domain string
param certificateThumbprint string

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

resource binding 'Microsoft.Web/sites/hostNameBindings@2024-04-01' = {
  parent: app
  name: domain
  properties: {
    siteName: appName
    hostNameType: 'Verified'
    customHostNameDnsRecordType: 'CName'
    sslState: 'SniEnabled'
    thumbprint: certificateThumbprint
  }
}

output hostName string = binding.name
