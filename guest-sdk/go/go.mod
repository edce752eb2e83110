module github.com/wasmcollector/wasmcollector/guest-sdk/go

go 1.24
