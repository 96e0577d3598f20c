module github.com/swipeflix/swipeflix/services/drift

go 1.26.8

require github.com/swipeflix/swipeflix/pkg v0.0.0

replace github.com/swipeflix/swipeflix/pkg => ../../pkg
