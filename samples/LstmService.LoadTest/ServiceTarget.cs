using Grpc.Net.Client;
using LstmKernels;
using LstmService.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LstmService.LoadTest;

/// <summary>
/// What one column of the tables loads: the service started in this process in one <see cref="ServeMode"/> (its engine
/// and its step-latency histogram readable), or a service already running at <c>--url</c> (client side only). The
/// streams are spread over <see cref="Clients"/>, one HTTP/2 connection each.
/// </summary>
internal sealed class ServiceTarget : IAsyncDisposable
{
    private readonly WebApplication? app;
    private readonly GrpcChannel[] channels;
    private readonly StreamingLstm.StreamingLstmClient[] clients;

    private ServiceTarget(ServeMode mode, WebApplication? app, LogCounter? logs, Uri address, int connections, ModelInfo info)
    {
        Mode = mode;
        this.app = app;
        Address = address;
        Info = info;
        channels = new GrpcChannel[connections];
        clients = new StreamingLstm.StreamingLstmClient[connections];
        for (int k = 0; k < connections; k++)
        {
            channels[k] = CreateChannel(address);
            clients[k] = new StreamingLstm.StreamingLstmClient(channels[k]);
        }

        if (app is not null)
        {
            Engine = app.Services.GetRequiredService<LstmEngine>();
            Probe = new ServerProbe(app.Services.GetRequiredService<ServiceMetrics>().Meter);
        }

        Logs = logs;
    }

    public ServeMode Mode { get; }

    public Uri Address { get; }

    /// <summary>The served model as the service describes it.</summary>
    public ModelInfo Info { get; }

    public IReadOnlyList<StreamingLstm.StreamingLstmClient> Clients => clients;

    /// <summary>The in-process service's engine (step and batch counts), or null for <c>--url</c>.</summary>
    public LstmEngine? Engine { get; }

    /// <summary>The in-process service's step-latency histogram, or null for <c>--url</c>.</summary>
    public ServerProbe? Probe { get; }

    /// <summary>Warnings and errors the in-process service logged, or null for <c>--url</c>.</summary>
    public LogCounter? Logs { get; }

    /// <summary>The column heading.</summary>
    public string Label => Mode switch
    {
        ServeMode.Off => "batching off",
        ServeMode.Inline => "batching on, inline continuations",
        ServeMode.Pool => "batching on, pool continuations",
        _ => Info.Batching ? "the service at --url (batching on)" : "the service at --url (batching off)",
    } + (Info.StepThreads == 2 ? ", 2 step threads" : "");

    /// <summary>Starts the service in this process on 127.0.0.1 with a port the OS picks.</summary>
    public static async Task<ServiceTarget> StartAsync(LoadOptions options, ServeMode mode, int connections)
    {
        var cells = new LstmParameters[options.Layers];
        for (int layer = 0; layer < cells.Length; layer++)
        {
            cells[layer] = LstmParameters.CreateRandom(options.Size, options.Size, seed: 15 + layer);
        }

        // A model of its own per host: the hosts of one run share nothing but the process.
        ServiceOptions serviceOptions = options.ServiceOptions(mode);
        Lstm lstm = Lstm.Create(cells, new LstmOptions { Precision = options.Precision, StepThreads = serviceOptions.ResolvedStepThreads });
        var logs = new LogCounter();
        WebApplication app = LstmServiceApp.Build(serviceOptions, lstm, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Logging.AddProvider(logs);
        });
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        var address = new Uri(app.Urls.Single());
        ModelInfo info = await ReadInfo(address).ConfigureAwait(false);
        return new ServiceTarget(mode, app, logs, address, connections, info);
    }

    /// <summary>A service already running at <paramref name="address"/>.</summary>
    public static async Task<ServiceTarget> ConnectAsync(Uri address, int connections) =>
        new(ServeMode.External, null, null, address, connections, await ReadInfo(address).ConfigureAwait(false));

    public async ValueTask DisposeAsync()
    {
        foreach (GrpcChannel channel in channels)
        {
            channel.Dispose();
        }

        Probe?.Dispose();
        if (app is not null)
        {
            await app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<ModelInfo> ReadInfo(Uri address)
    {
        using GrpcChannel channel = CreateChannel(address);
        var client = new StreamingLstm.StreamingLstmClient(channel);
        return await client.InfoAsync(new InfoRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync.ConfigureAwait(false);
    }

    // One connection per channel: SocketsHttpHandler would open more only past the server's stream limit, which the
    // service sets above its stream cap.
    private static GrpcChannel CreateChannel(Uri address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
        DisposeHttpClient = true,
    });
}
