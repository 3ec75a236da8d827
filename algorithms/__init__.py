"""One Processing algorithm per module; the provider registers every CargoWatchAlgorithm subclass found here."""
