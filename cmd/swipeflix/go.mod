module github.com/swipeflix/swipeflix/cmd/swipeflix

go 1.26.8

require (
	github.com/swipeflix/swipeflix/pkg v0.0.0
	github.com/swipeflix/swipeflix/services/api v0.0.0
	github.com/swipeflix/swipeflix/services/drift v0.0.0
	github.com/swipeflix/swipeflix/services/ingest v0.0.0
	github.com/swipeflix/swipeflix/services/trainer v0.0.0
)

replace github.com/swipeflix/swipeflix/pkg => ../../pkg

replace github.com/swipeflix/swipeflix/services/ingest => ../../services/ingest

replace github.com/swipeflix/swipeflix/services/trainer => ../../services/trainer

replace github.com/swipeflix/swipeflix/services/api => ../../services/api

replace github.com/swipeflix/swipeflix/services/drift => ../../services/drift
