# Agora. The two commands a newcomer needs: `make run` and `make test`.
.PHONY: setup build run test bench guests fmt lint

setup:
	scripts/setup.sh

build:
	cargo build --release -p agora-host

run: setup build
	./target/release/agora serve

test:
	scripts/test.sh

bench: setup
	scripts/bench.sh

guests: setup
	scripts/build-guests.sh

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings
