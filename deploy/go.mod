module github.com/swipeflix/swipeflix/deploy

go 1.26.8
