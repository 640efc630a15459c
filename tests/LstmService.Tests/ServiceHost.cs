using System.Collections.Concurrent;
using System.Net;
using Grpc.Net.Client;
using LstmKernels;
using LstmService.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LstmService.Tests;

/// <summary>
/// The real service, in this process, on Kestrel at 127.0.0.1 with a port the OS picks, and a gRPC channel to it.
/// </summary>
/// <remarks>
/// Kestrel rather than TestServer: the faults under test live in the transport. A client's RST_STREAM on cancel, a
/// deadline, HTTP/2 flow control holding back a slow reader, the endpoint being HTTP/2 only and the per-connection
/// stream limit are Kestrel's and SocketsHttpHandler's behaviour; TestServer replaces both with in-memory pipes that
/// have none of it. A loopback socket costs a few milliseconds per host, and the load test starts the service the same way.
/// </remarks>
internal sealed class ServiceHost : IAsyncDisposable
{
    /// <summary>The bound on every await in these tests.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly WebApplication app;
    private bool stopped;

    private ServiceHost(WebApplication app, LogCollector logs)
    {
        this.app = app;
        Logs = logs;
        Address = new Uri(app.Urls.Single());
        Engine = app.Services.GetRequiredService<LstmEngine>();
        Metrics = app.Services.GetRequiredService<ServiceMetrics>();
        Channel = GrpcChannel.ForAddress(Address);
        Client = new StreamingLstm.StreamingLstmClient(Channel);
    }

    public Uri Address { get; }

    public LstmEngine Engine { get; }

    public ServiceMetrics Metrics { get; }

    public GrpcChannel Channel { get; }

    public StreamingLstm.StreamingLstmClient Client { get; }

    /// <summary>Warnings and errors the service logged.</summary>
    public LogCollector Logs { get; }

    public int InputSize => Engine.Lstm.InputSize;

    /// <summary>Starts the service with <paramref name="model"/>, or with the model the options name (the default one).</summary>
    public static async Task<ServiceHost> StartAsync(ServiceOptions? options = null, Lstm? model = null)
    {
        options = (options ?? new ServiceOptions()) with { Urls = "http://127.0.0.1:0" };
        var logs = new LogCollector();
        void Configure(WebApplicationBuilder builder)
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Logging.AddProvider(logs);
        }

        WebApplication app = model is null ? LstmServiceApp.Build(options, Configure) : LstmServiceApp.Build(options, model, Configure);
        await app.StartAsync().WaitAsync(Timeout);
        return new ServiceHost(app, logs);
    }

    /// <summary>A second connection to the same service (a different client).</summary>
    public GrpcChannel NewChannel() => GrpcChannel.ForAddress(Address);

    /// <summary>Stops the host: what the shutdown test observes.</summary>
    public async Task StopAsync()
    {
        stopped = true;
        await app.StopAsync().WaitAsync(Timeout);
    }

    /// <summary>Polls until <paramref name="condition"/> holds, or fails after <see cref="Timeout"/>.</summary>
    public static async Task WaitUntil(Func<bool> condition, string what)
    {
        DateTime end = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > end)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>Waits until no stream is open, in the engine's count and in the batcher's.</summary>
    public Task WaitForNoStreams() =>
        WaitUntil(() => Engine.ActiveStreams == 0 && (Engine.Batcher?.OpenStreams ?? 0) == 0, "no stream is open");

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        if (!stopped)
        {
            await app.StopAsync().WaitAsync(Timeout);
        }

        await app.DisposeAsync();
    }
}

/// <summary>
/// A model small enough that the tests' thousands of steps cost little on the scalar path, with a hidden size that is
/// not a multiple of the 16-unit panel (the default model is 2×(64 → 256)).
/// </summary>
internal static class TestModels
{
    public static Lstm Small(WeightPrecision precision = WeightPrecision.Float32) => Lstm.Create(
        [LstmParameters.CreateRandom(24, 40, seed: 21), LstmParameters.CreateRandom(40, 40, seed: 22)],
        new LstmOptions { Precision = precision });
}

/// <summary>Keeps the service's log entries at Warning and above.</summary>
internal sealed class LogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<string> entries = new();

    public IReadOnlyCollection<string> Entries => entries;

    public IReadOnlyList<string> Errors => [.. entries.Where(e => e.StartsWith("Error", StringComparison.Ordinal) || e.StartsWith("Critical", StringComparison.Ordinal))];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCollector owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner.entries.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
            }
        }
    }
}

/// <summary>HTTP/2 without TLS, as the endpoint speaks it.</summary>
internal static class H2c
{
    public static HttpClient CreateClient(Uri address) => new(new SocketsHttpHandler())
    {
        BaseAddress = address,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = ServiceHost.Timeout,
    };
}
