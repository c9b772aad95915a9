// Wiring only: the command line is defined in ClientCommandLine, the program in ClientProgram.
// Ctrl+C or SIGTERM cancels the token the action gets: a --duration run stops and prints its summary.
return await Lab.Hosting.LabCommandLine.InvokeStoppableAsync(Lab.ClientApp.ClientCommandLine.Create().Parse(args));
