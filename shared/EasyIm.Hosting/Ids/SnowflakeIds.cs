namespace EasyIm.Hosting.Ids;

/// <summary>
/// 64-bit ids: 41 bits of milliseconds since 2024-01-01, 10 bits of node id, 12 bits of
/// sequence. Ids from one node only grow, also when the clock steps back.
/// </summary>
public sealed class SnowflakeIds(TimeProvider time)
{
    public const int MaxNodeId = 1023;
    private static readonly long Epoch = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private readonly Lock _lock = new();
    private long _nodeId = -1;
    private long _lastMs;
    private long _sequence;

    public bool HasNode => Volatile.Read(ref _nodeId) >= 0;

    public int NodeId => (int)Volatile.Read(ref _nodeId);

    internal void SetNode(int nodeId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nodeId);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(nodeId, MaxNodeId);
        Volatile.Write(ref _nodeId, nodeId);
    }

    public long Next()
    {
        var node = Volatile.Read(ref _nodeId);
        if (node < 0)
            throw new InvalidOperationException("No snowflake node id yet: the node lease has not been acquired.");
        lock (_lock)
        {
            var now = Math.Max(time.GetUtcNow().ToUnixTimeMilliseconds() - Epoch, _lastMs);
            if (now == _lastMs)
            {
                _sequence = (_sequence + 1) & 0xFFF;
                if (_sequence == 0)
                    now++; // 4096 ids in this millisecond: borrow the next one rather than wait.
            }
            else
            {
                _sequence = 0;
            }
            _lastMs = now;
            return (now << 22) | (node << 12) | _sequence;
        }
    }
}
