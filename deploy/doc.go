// Package deploy holds no code: its tests check the deployment files in this
// directory (the image build, docker-compose.yml and the Helm chart) with the
// libraries their consumers use, so that a file that would fail to deploy
// fails `make test` instead.
package deploy
