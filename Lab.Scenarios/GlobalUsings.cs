// The test kit (processes, fake peers, raw connections) is used by every part of the runner.
global using Lab.Testing;
