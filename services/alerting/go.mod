module github.com/feedloop/feedloop/services/alerting

go 1.26.0
