module github.com/feedloop/feedloop/services/intake

go 1.26.0
