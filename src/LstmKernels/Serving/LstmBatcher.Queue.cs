using System.Diagnostics;

namespace LstmKernels;

/// <summary>The queue of pending steps: a ring of at most <see cref="LstmBatcherOptions.MaxStreams"/> streams (a stream has at most one step queued), used under the lock.</summary>
public sealed partial class LstmBatcher
{
    private static readonly Action<object?, CancellationToken> OnCancel = static (state, _) =>
    {
        var stream = (LstmStream)state!;
        stream.Batcher.CancelQueued(stream);
    };

    private void Enqueue(LstmStream stream)
    {
        Debug.Assert(queueCount < queue.Length);
        queue[(queueHead + queueCount) % queue.Length] = stream;
        queueCount++;
        stream.InQueue = true;
    }

    private LstmStream Dequeue()
    {
        LstmStream stream = queue[queueHead]!;
        queue[queueHead] = null;
        queueHead = (queueHead + 1) % queue.Length;
        queueCount--;
        Left(stream);
        return stream;
    }

    /// <summary>Takes <paramref name="stream"/> out of the queue, keeping the others in order; false when it was not queued.</summary>
    private bool Remove(LstmStream stream)
    {
        int at = -1;
        for (int k = 0; k < queueCount; k++)
        {
            if (ReferenceEquals(queue[(queueHead + k) % queue.Length], stream))
            {
                at = k;
                break;
            }
        }

        if (at < 0)
        {
            return false;
        }

        for (int k = at; k < queueCount - 1; k++)
        {
            queue[(queueHead + k) % queue.Length] = queue[(queueHead + k + 1) % queue.Length];
        }

        queue[(queueHead + queueCount - 1) % queue.Length] = null;
        queueCount--;
        Left(stream);
        return true;
    }

    /// <summary>A step left the queue: its cancellation no longer takes it out.</summary>
    private static void Left(LstmStream stream)
    {
        stream.InQueue = false;
        stream.Registration.Unregister();
        stream.Registration = default;
    }

    /// <summary>
    /// The cancellation callback of a queued asynchronous step: takes it out of the queue and cancels it at once, its
    /// state untouched. Nothing happens when the step has already joined a batch (it then completes).
    /// </summary>
    private void CancelQueued(LstmStream stream)
    {
        OperationCanceledException cancelled;
        lock (gate)
        {
            if (!stream.InQueue || stream.Kind != RequestKind.Async || !stream.Token.IsCancellationRequested || !Remove(stream))
            {
                return;
            }

            cancelled = new OperationCanceledException(stream.Token);
        }

        stream.Complete(cancelled);
    }
}
