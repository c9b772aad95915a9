using Lab.Client.Cli;

// Wiring only: the command line is defined in ClientCommandLine, the program in ClientApp.
return await ClientCommandLine.Create().Parse(args).InvokeAsync();
