using System.Diagnostics;

namespace LstmKernels;

/// <summary>The queue of pending steps: a ring of at most <see cref="LstmBatcherOptions.MaxStreams"/> streams (a stream has at most one step queued), used under the lock.</summary>
public sealed partial class LstmBatcher
{
    private void Enqueue(LstmStream stream)
    {
        Debug.Assert(queueCount < queue.Length);
        queue[(queueHead + queueCount) % queue.Length] = stream;
        queueCount++;
    }

    private LstmStream Dequeue()
    {
        LstmStream stream = queue[queueHead]!;
        queue[queueHead] = null;
        queueHead = (queueHead + 1) % queue.Length;
        queueCount--;
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
        return true;
    }
}
