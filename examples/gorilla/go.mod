module github.com/wsdial/wsdial/examples/gorilla

go 1.26.0

require (
	github.com/gorilla/websocket v1.5.3
	github.com/wsdial/wsdial v0.0.0
)

require (
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)

replace github.com/wsdial/wsdial => ../../
