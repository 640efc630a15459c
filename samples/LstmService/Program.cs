using LstmService;

ServiceOptions options;
try
{
    options = ServiceOptions.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"LstmService: {e.Message}{Environment.NewLine}{ServiceOptions.Usage}").ConfigureAwait(false);
    return 2;
}

if (options.ShowHelp)
{
    Console.WriteLine(ServiceOptions.Usage);
    return 0;
}

WebApplication app;
try
{
    app = LstmServiceApp.Build(options);
}
catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or UnauthorizedAccessException or ArgumentException)
{
    await Console.Error.WriteLineAsync($"LstmService: cannot serve the model: {e.Message}").ConfigureAwait(false);
    return 1;
}

await app.RunAsync().ConfigureAwait(false);
return 0;
