module github.com/ciartifacts/jobartifacts

go 1.26
