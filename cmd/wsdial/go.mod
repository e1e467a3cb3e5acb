module github.com/wsdial/wsdial/cmd/wsdial

go 1.26.0

require (
	github.com/wsdial/wsdial v0.0.0
	github.com/wsdial/wsdial/negotiate v0.0.0
	github.com/wsdial/wsdial/ntlm v0.0.0
	github.com/wsdial/wsdial/pac v0.0.0
)

require (
	github.com/Azure/go-ntlmssp v0.1.1 // indirect
	github.com/dlclark/regexp2/v2 v2.5.2 // indirect
	github.com/dop251/goja v0.0.0-20260917113740-793a2a65c13b // indirect
	github.com/go-sourcemap/sourcemap v2.1.3+incompatible // indirect
	github.com/google/pprof v0.0.0-20230207041349-798e818bf904 // indirect
	github.com/hashicorp/go-uuid v1.0.3 // indirect
	github.com/jcmturner/aescts/v2 v2.0.0 // indirect
	github.com/jcmturner/dnsutils/v2 v2.0.0 // indirect
	github.com/jcmturner/gofork v1.7.6 // indirect
	github.com/jcmturner/goidentity/v6 v6.0.1 // indirect
	github.com/jcmturner/gokrb5/v8 v8.4.4 // indirect
	github.com/jcmturner/rpc/v2 v2.0.3 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)

replace (
	github.com/wsdial/wsdial => ../..
	github.com/wsdial/wsdial/negotiate => ../../negotiate
	github.com/wsdial/wsdial/ntlm => ../../ntlm
	github.com/wsdial/wsdial/pac => ../../pac
)
