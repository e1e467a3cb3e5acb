module github.com/wsdial/wsdial/ntlm

go 1.26.0

require (
	github.com/Azure/go-ntlmssp v0.1.1
	github.com/wsdial/wsdial v0.0.0
)

require (
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)

replace github.com/wsdial/wsdial => ../
