"""Operations against a real AWS account: opt-in, never part of `make test`."""
