module github.com/feedloop/feedloop/services/segmentation

go 1.26.0
