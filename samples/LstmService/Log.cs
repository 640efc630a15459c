namespace LstmService;

/// <summary>The service's log messages (source-generated: no boxing, no formatting unless enabled).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "LstmService: {Layers} layer(s), input {Input}, hidden {Hidden}, output {Output}, {Precision} weights ({WeightBytes} bytes); {Mode}; at most {MaxStreams} streams; listening on {Urls}")]
    public static partial void Started(ILogger logger, int layers, int input, int hidden, int output, string precision, long weightBytes, string mode, int maxStreams, string urls);

    [LoggerMessage(2, LogLevel.Information, "Shutting down: {Streams} open stream(s) end after their step in flight")]
    public static partial void Draining(ILogger logger, int streams);

    [LoggerMessage(3, LogLevel.Warning, "Shutdown timeout: {Streams} stream(s) still open; disposing the batcher anyway")]
    public static partial void DrainTimedOut(ILogger logger, int streams);

    [LoggerMessage(4, LogLevel.Debug, "Stream refused: {Reason}")]
    public static partial void Refused(ILogger logger, string reason);

    [LoggerMessage(5, LogLevel.Information, "Stream ended by a bad frame: {Reason}")]
    public static partial void BadFrame(ILogger logger, string reason);
}
