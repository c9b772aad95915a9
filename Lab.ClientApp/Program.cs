// Wiring only: the command line is defined in ClientCommandLine, the program in ClientProgram.
return await Lab.ClientApp.ClientCommandLine.Create().Parse(args).InvokeAsync();
