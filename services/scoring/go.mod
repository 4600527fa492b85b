module github.com/feedloop/feedloop/services/scoring

go 1.26.0
