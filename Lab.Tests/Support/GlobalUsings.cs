// The shared test support (timeouts, log recorder, registry, processes) is used by every test folder.
global using Lab.Tests.Support;
