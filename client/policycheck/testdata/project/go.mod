module example.com/app

go 1.21

require example.com/hello v1.1.0

require example.com/dep v1.0.0 // indirect
