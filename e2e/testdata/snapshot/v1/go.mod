module example.com/snapapp

go 1.21

require github.com/google/uuid v1.5.0
