using LstmKernels;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace LstmService;

/// <summary>
/// Builds the service as a <see cref="WebApplication"/>: what <c>Program</c> runs, and what a test or a load test starts
/// in-process (e.g. with <c>Urls = "http://127.0.0.1:0"</c>, then <c>app.Urls</c> for the bound port and
/// <see cref="ServiceMetrics.Meter"/> or <see cref="LstmEngine"/> for the counts).
/// </summary>
public static class LstmServiceApp
{
    /// <summary>Loads and packs the model, then builds the host (not started).</summary>
    /// <param name="options">The settings.</param>
    /// <param name="configure">A last say over the builder (logging, services), or null.</param>
    /// <exception cref="IOException">The model file cannot be read.</exception>
    /// <exception cref="InvalidDataException">The model file is not a forward <c>nn.LSTM</c> state_dict in safetensors.</exception>
    /// <exception cref="NotSupportedException">The precision does not fit the model.</exception>
    public static WebApplication Build(ServiceOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);

        // The model is packed before the host exists: a bad file fails here, before any port is bound, and the gRPC
        // options below know the input size.
        return Build(options, ModelLoader.Load(options), configure);
    }

    /// <summary>Builds the host (not started) around a model already built: <paramref name="options"/>' model path and precision are not used.</summary>
    /// <param name="options">The settings.</param>
    /// <param name="lstm">The model: forward, any layers, its own precision.</param>
    /// <param name="configure">A last say over the builder (logging, services), or null.</param>
    /// <exception cref="ArgumentException"><paramref name="lstm"/> is reverse or bidirectional.</exception>
    public static WebApplication Build(ServiceOptions options, Lstm lstm, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(lstm);
        if (lstm.Directions != 1 || lstm.Options.Direction != LstmDirection.Forward)
        {
            throw new ArgumentException("A streaming service needs a forward LSTM; a reverse direction needs the whole sequence.", nameof(lstm));
        }

        // No command-line arguments for ASP.NET's configuration: this service parses its own. Environment variables
        // (e.g. Logging__LogLevel__Default) still configure the host.
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls(options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // gRPC without TLS is HTTP/2 with prior knowledge: the endpoint speaks HTTP/2 only (so does /healthz).
            kestrel.ConfigureEndpointDefaults(endpoint => endpoint.Protocols = HttpProtocols.Http2);

            // One client connection may carry every stream the service admits: the stream cap answers with
            // RESOURCE_EXHAUSTED before HTTP/2's per-connection limit would queue a stream silently at the client.
            kestrel.Limits.Http2.MaxStreamsPerConnection = Math.Max(100, options.MaxStreams + 16);

            // A client that vanishes without closing its connection is found by pings, and its streams' slots freed.
            kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(30);
            kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(20);
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.DrainTimeout);

        builder.Services.AddSingleton(lstm);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<LstmEngine>();
        builder.Services.AddHostedService(services => services.GetRequiredService<LstmEngine>());
        builder.Services.AddSingleton<ServiceMetrics>();
        int maxFrameBytes = (4 * lstm.InputSize) + 64;
        builder.Services.AddGrpc()
            .AddServiceOptions<StreamingLstmService>(grpc =>
            {
                // A request larger than the largest frame is refused by gRPC with RESOURCE_EXHAUSTED before it is read.
                grpc.MaxReceiveMessageSize = maxFrameBytes;
                grpc.MaxSendMessageSize = (4 * lstm.OutputSize) + 64;
            });
        builder.Services.AddHealthChecks().AddCheck<ModelHealthCheck>("model");
        configure?.Invoke(builder);

        WebApplication app = builder.Build();
        app.MapGrpcService<StreamingLstmService>();
        app.MapHealthChecks("/healthz");

        // The observable instruments exist from the start, not from the first stream.
        app.Services.GetRequiredService<ServiceMetrics>();
        LstmEngine engine = app.Services.GetRequiredService<LstmEngine>();
        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LstmService");
        app.Lifetime.ApplicationStarted.Register(() => Log.Started(
            logger,
            lstm.Layers,
            lstm.InputSize,
            lstm.HiddenSize,
            lstm.OutputSize,
            ServiceOptions.PrecisionName(lstm.Options.Precision),
            lstm.WeightBytes,
            engine.Batching
                ? $"one LstmBatcher, batches of up to {engine.MaxBatch}, {(options.PoolContinuations ? "pool" : "inline")} continuations, {lstm.Options.StepThreads} step thread(s)"
                : $"one LstmSession per stream, {lstm.Options.StepThreads} step thread(s)",
            engine.MaxStreams,
            string.Join(' ', app.Urls)));
        return app;
    }
}
