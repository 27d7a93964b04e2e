# Agora. The two commands a newcomer needs: `make run` and `make test`.
# Builds go to a persistent directory outside the checkout (scripts/env.sh).
.PHONY: setup build run test bench guests fmt lint migration

TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(AGORA_TARGET_DIR),$(HOME)/.cache/agora/target)
export CARGO_TARGET_DIR := $(TARGET_DIR)

setup:
	scripts/setup.sh

build:
	cargo build --release -p agora-host

run: setup build
	$(TARGET_DIR)/release/agora serve

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

# make migration NAME=short_name: the next migration, in both dialects.
migration:
	scripts/new-migration.sh $(NAME)
