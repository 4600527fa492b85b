module github.com/feedloop/feedloop/cmd

go 1.26.0
