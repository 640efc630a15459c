namespace LstmKernels;

/// <summary>Why an <see cref="LstmStream"/> is closed; its calls then throw <see cref="ObjectDisposedException"/> saying the same.</summary>
public enum LstmStreamCloseReason
{
    /// <summary>The stream is open.</summary>
    None,

    /// <summary>The stream was disposed.</summary>
    Disposed,

    /// <summary>The stream had no step for <see cref="LstmBatcherOptions.IdleTimeout"/>.</summary>
    IdleTimeout,

    /// <summary>Its batcher was disposed.</summary>
    BatcherDisposed,
}
