using System.Diagnostics;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using LstmService.V1;

namespace LstmService.LoadTest;

/// <summary>How a soak client leaves its stream, mid-stream and without a goodbye.</summary>
internal enum DisconnectKind
{
    /// <summary>Its own connection: a frame written, then the connection reset before the output arrives.</summary>
    DropConnectionMidStep,

    /// <summary>Its own connection: one round trip, a second frame written, then the connection reset.</summary>
    DropConnectionAfterRoundTrip,

    /// <summary>The shared connection: one round trip, a second frame written, then the call cancelled (RST_STREAM).</summary>
    Cancel,

    /// <summary>The shared connection: one round trip, then silence until the call's 50 ms deadline passes.</summary>
    Deadline,
}

/// <summary>The service's state after a number of abrupt disconnects, once every slot they held is back.</summary>
/// <param name="Disconnects">Disconnects so far.</param>
/// <param name="ActiveStreams">The service's active-streams gauge (<see cref="LstmEngine.ActiveStreams"/>).</param>
/// <param name="OpenSlots">The batcher's open streams (0 without batching).</param>
/// <param name="HeapBytes">The managed heap after a full, compacting, blocking collection, process-wide.</param>
/// <param name="WorkingSetBytes">The process's working set.</param>
/// <param name="Elapsed">Time since the soak started.</param>
internal sealed record class SoakCheckpoint(int Disconnects, int ActiveStreams, int OpenSlots, long HeapBytes, long WorkingSetBytes, TimeSpan Elapsed);

/// <summary>
/// Clients that open a stream and leave it abruptly, over and over (<see cref="DisconnectKind"/> in turn), against the
/// service in this process; after every chunk, waits until the service's gauge says the streams are gone, then records
/// its memory. A leak per stream shows as heap that grows with the disconnects; a slot never freed, as a gauge that does
/// not come back to 0 (the wait ends after 15 s and the checkpoint records what was left).
/// </summary>
internal static class DisconnectSoak
{
    /// <summary>The longest wait for the gauge to come back to 0 after a chunk.</summary>
    public static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Runs the soak.</summary>
    /// <param name="address">The service (loopback).</param>
    /// <param name="inputSize">The model's input size.</param>
    /// <param name="count">Disconnects in all.</param>
    /// <param name="chunk">Disconnects between checkpoints; the first checkpoint is the baseline after one chunk of warm-up.</param>
    /// <param name="parallel">Clients at a time.</param>
    /// <param name="streams">Reads the service's (active streams, open batcher slots).</param>
    /// <returns>The checkpoints, one per chunk, and the client calls that failed in a way no disconnect explains.</returns>
    public static async Task<(IReadOnlyList<SoakCheckpoint> Checkpoints, int Unexpected, string? FirstUnexpected)> RunAsync(
        Uri address, int inputSize, int count, int chunk, int parallel, Func<(int Active, int Open)> streams)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunk, 1);
        var frame = new Frame();
        for (int k = 0; k < inputSize; k++)
        {
            frame.Values.Add(k % 7 * 0.1f);
        }

        using GrpcChannel shared = GrpcChannel.ForAddress(address);
        var sharedClient = new StreamingLstm.StreamingLstmClient(shared);
        var checkpoints = new List<SoakCheckpoint>();
        int unexpected = 0;
        string? firstUnexpected = null;
        var clock = Stopwatch.StartNew();
        for (int done = 0; done < count;)
        {
            int end = Math.Min(count, done + chunk);
            await Parallel.ForAsync(done, end, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, _) =>
            {
                try
                {
                    await DisconnectOnce((DisconnectKind)(i % 4), address, sharedClient, frame).ConfigureAwait(false);
                }
                catch (Exception e) when (e is RpcException or OperationCanceledException or IOException or HttpRequestException or ObjectDisposedException)
                {
                    // What a client that leaves abruptly is told (Cancelled, DeadlineExceeded, a reset connection).
                }
                catch (Exception e)
                {
                    if (Interlocked.Increment(ref unexpected) == 1)
                    {
                        firstUnexpected = e.ToString();
                    }
                }
            }).ConfigureAwait(false);
            done = end;

            DateTime settle = DateTime.UtcNow + SettleTimeout;
            while (streams() != (0, 0) && DateTime.UtcNow < settle)
            {
                await Task.Delay(5).ConfigureAwait(false);
            }

            (int active, int open) = streams();
            for (int k = 0; k < 2; k++)
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
            }

            using var process = Process.GetCurrentProcess();
            checkpoints.Add(new SoakCheckpoint(done, active, open, GC.GetTotalMemory(forceFullCollection: false), process.WorkingSet64, clock.Elapsed));
        }

        return (checkpoints, unexpected, firstUnexpected);
    }

    /// <summary>One client, one stream, one abrupt end. The exceptions the end itself causes are the caller's to ignore.</summary>
    private static async Task DisconnectOnce(DisconnectKind kind, Uri address, StreamingLstm.StreamingLstmClient sharedClient, Frame frame)
    {
        var bound = TimeSpan.FromSeconds(15);
        switch (kind)
        {
            case DisconnectKind.DropConnectionMidStep:
            case DisconnectKind.DropConnectionAfterRoundTrip:
            {
                // A connection of its own, whose socket is reset under the open stream (SO_LINGER 0, then close: a TCP
                // RST): the server sees the connection go, with no RST_STREAM and no GOAWAY first.
                Socket? socket = null;
                var handler = new SocketsHttpHandler
                {
                    EnableMultipleHttp2Connections = false,
                    ConnectCallback = async (context, token) =>
                    {
                        var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                        await s.ConnectAsync(context.DnsEndPoint, token).ConfigureAwait(false);
                        socket = s;
                        return new NetworkStream(s, ownsSocket: true);
                    },
                };
                GrpcChannel own = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
                try
                {
                    AsyncDuplexStreamingCall<Frame, Frame> call = new StreamingLstm.StreamingLstmClient(own).Run();
                    await call.RequestStream.WriteAsync(frame).WaitAsync(bound).ConfigureAwait(false);
                    if (kind == DisconnectKind.DropConnectionAfterRoundTrip)
                    {
                        await call.ResponseStream.MoveNext().WaitAsync(bound).ConfigureAwait(false);
                        await call.RequestStream.WriteAsync(frame).WaitAsync(bound).ConfigureAwait(false);
                    }
                }
                finally
                {
                    if (socket is not null)
                    {
                        socket.LingerState = new LingerOption(true, 0);
                        socket.Close();
                    }

                    own.Dispose();
                }

                break;
            }

            case DisconnectKind.Cancel:
            {
                using var cancel = new CancellationTokenSource();
                using AsyncDuplexStreamingCall<Frame, Frame> call = sharedClient.Run(cancellationToken: cancel.Token);
                await call.RequestStream.WriteAsync(frame).WaitAsync(bound).ConfigureAwait(false);
                await call.ResponseStream.MoveNext().WaitAsync(bound).ConfigureAwait(false);
                await call.RequestStream.WriteAsync(frame).WaitAsync(bound).ConfigureAwait(false);
                await cancel.CancelAsync().ConfigureAwait(false);
                break;
            }

            default:
            {
                using AsyncDuplexStreamingCall<Frame, Frame> call = sharedClient.Run(deadline: DateTime.UtcNow.AddMilliseconds(50));
                await call.RequestStream.WriteAsync(frame).WaitAsync(bound).ConfigureAwait(false);
                while (await call.ResponseStream.MoveNext().WaitAsync(bound).ConfigureAwait(false))
                {
                }

                break;
            }
        }
    }
}
