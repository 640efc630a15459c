using System.Diagnostics;
using Grpc.Core;
using LstmKernels;
using LstmService.V1;

namespace LstmService;

/// <summary>The gRPC service: <c>Run</c> (one call = one stream) and <c>Info</c>.</summary>
/// <remarks>
/// Per frame, this handler allocates nothing of its own: the input is copied into the stream's own array, the step
/// writes into the stream's own output array, and one reply message (with its values' capacity set once) is refilled
/// and written for every frame. What gRPC and protobuf allocate per received frame is theirs: the deserialized
/// <see cref="Frame"/>, its <c>RepeatedField</c> and that field's array (see README.md).
/// </remarks>
public sealed class StreamingLstmService(LstmEngine engine, ServiceMetrics metrics, ILogger<StreamingLstmService> logger)
    : StreamingLstm.StreamingLstmBase
{
    /// <inheritdoc/>
    public override Task<ModelInfo> Info(InfoRequest request, ServerCallContext context)
    {
        Lstm lstm = engine.Lstm;
        return Task.FromResult(new ModelInfo
        {
            InputSize = lstm.InputSize,
            HiddenSize = lstm.HiddenSize,
            OutputSize = lstm.OutputSize,
            ProjectionSize = lstm.ProjectionSize,
            Layers = lstm.Layers,
            Precision = lstm.Options.Precision switch
            {
                WeightPrecision.BFloat16 => Precision.Bfloat16,
                WeightPrecision.Int8 => Precision.Int8,
                _ => Precision.Float32,
            },
            Batching = engine.Batching,
            MaxStreams = engine.MaxStreams,
            MaxBatch = engine.MaxBatch,
            MaxFrameBytes = engine.MaxFrameBytes,
            StepThreads = lstm.Options.StepThreads,
        });
    }

    /// <inheritdoc/>
    public override async Task Run(IAsyncStreamReader<Frame> requestStream, IServerStreamWriter<Frame> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(requestStream);
        ArgumentNullException.ThrowIfNull(responseStream);
        ArgumentNullException.ThrowIfNull(context);
        FrameStepper stepper;
        try
        {
            stepper = engine.Open();
        }
        catch (RpcException e)
        {
            metrics.RecordRejected(e.StatusCode == StatusCode.ResourceExhausted);
            Log.Refused(logger, e.Status.Detail);
            throw;
        }

        // The call's token: the client cancelled, reset the stream, disconnected, or passed its deadline.
        CancellationToken call = context.CancellationToken;
        StatusCode status = StatusCode.Unknown;
        try
        {
            await RunStream(stepper, requestStream, responseStream, call).ConfigureAwait(false);
            status = StatusCode.OK;
        }
        catch (RpcException e)
        {
            // Ours (a bad frame) or gRPC's (a message over the size limit).
            status = e.StatusCode;
            throw;
        }
        catch (Exception e) when (call.IsCancellationRequested || e is IOException || (e is InvalidOperationException && context.Deadline <= DateTime.UtcNow))
        {
            // Whatever a gone client made the read, the step or the write throw, as the status it will never read.
            // Kestrel fails the read with an IOException ("The client reset the request stream") before it cancels
            // the call's token, on another thread, so the token alone does not tell. Likewise a deadline that passes
            // during a write: gRPC completes the response first ("Can't write the message because the request is
            // complete", an InvalidOperationException) and cancels the token after (once in ~80 000 soak disconnects).
            status = context.Deadline <= DateTime.UtcNow ? StatusCode.DeadlineExceeded : StatusCode.Cancelled;
            throw new RpcException(new Status(status, "The call was cancelled: the client cancelled, reset the stream, disconnected or passed its deadline."));
        }
        catch (Exception e) when ((engine.Stopping.IsCancellationRequested && e is OperationCanceledException)
            || (e is ObjectDisposedException && stepper.CloseReason == LstmStreamCloseReason.BatcherDisposed))
        {
            // Shutdown: the read was cancelled after the last step's output went out, or (after the drain timeout) the
            // batcher was disposed under a queued step, which the stream's CloseReason says.
            status = StatusCode.Unavailable;
            throw LstmEngine.ShuttingDown();
        }
        finally
        {
            // Frees the batcher slot and the stream's place in the cap, whatever ended the call.
            metrics.RecordEnded(status);
            stepper.Dispose();
        }
    }

    private async Task RunStream(FrameStepper stepper, IAsyncStreamReader<Frame> requests, IServerStreamWriter<Frame> responses, CancellationToken call)
    {
        int input = engine.Lstm.InputSize;
        int output = engine.Lstm.OutputSize;
        float[] x = new float[input];
        float[] y = new float[output];
        var reply = new Frame();
        reply.Values.Capacity = output;
        long index = 0;

        // Frame by frame: the next frame is read only after this one's output is written, so a stream holds at most one
        // frame in the handler, and a client that reads slowly is held back by HTTP/2 flow control on its own stream.
        // The read watches shutdown; the step does not: a step taken completes and its output is sent.
        while (await requests.MoveNext(engine.Stopping).ConfigureAwait(false))
        {
            Frame frame = requests.Current;
            if (frame.Values.Count != input)
            {
                string detail = $"Frame {index} has {frame.Values.Count} values; this model's input size is {input}, and every frame must have exactly {input}.";
                Log.BadFrame(logger, detail);
                throw new RpcException(new Status(StatusCode.InvalidArgument, detail));
            }

            frame.Values.CopyTo(x, 0);
            long started = Stopwatch.GetTimestamp();
            await stepper.StepAsync(x, y, call).ConfigureAwait(false);
            metrics.RecordStep(Stopwatch.GetElapsedTime(started).TotalMicroseconds);

            reply.Values.Clear();
            reply.Values.AddRange(y);
            await responses.WriteAsync(reply, call).ConfigureAwait(false);
            index++;
        }
    }
}
