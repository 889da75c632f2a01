module github.com/ciartifacts/jobartifacts

go 1.26

require (
	github.com/gorilla/mux v1.8.1
	github.com/klauspost/compress v1.20.4
	github.com/stretchr/testify v1.12.1
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
