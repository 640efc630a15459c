using Microsoft.Extensions.Logging;

namespace LstmService.LoadTest;

/// <summary>Counts what the in-process service logs at Warning and above, and keeps the first few entries.</summary>
internal sealed class LogCounter : ILoggerProvider
{
    private const int Kept = 5;
    private readonly List<string> first = [];
    private int count;

    /// <summary>Entries at Warning and above so far.</summary>
    public int Count => Volatile.Read(ref count);

    /// <summary>The first few entries.</summary>
    public IReadOnlyList<string> First
    {
        get
        {
            lock (first)
            {
                return [.. first];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(string entry)
    {
        Interlocked.Increment(ref count);
        lock (first)
        {
            if (first.Count < Kept)
            {
                first.Add(entry);
            }
        }
    }

    private sealed class Logger(LogCounter owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner.Add($"{logLevel} {category}: {formatter(state, exception)} {exception}");
            }
        }
    }
}
