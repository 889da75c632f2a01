module github.com/ciartifacts/jobartifacts/examples/server

go 1.26

replace (
	github.com/ciartifacts/jobartifacts => ../..
	github.com/ciartifacts/jobartifacts/pgstore => ../../pgstore
	github.com/ciartifacts/jobartifacts/s3store => ../../s3store
)

require (
	github.com/ciartifacts/jobartifacts v0.0.0-00010101000000-000000000000
	github.com/klauspost/compress v1.20.4
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/gorilla/mux v1.8.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
