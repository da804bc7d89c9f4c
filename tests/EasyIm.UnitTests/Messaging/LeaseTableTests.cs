using EasyIm.Messaging;

namespace EasyIm.UnitTests.Messaging;

/// <summary>The soft state with leases that presence (gateways) and the partition sharing (messaging processes) keep.</summary>
public sealed class LeaseTableTests
{
    [Fact]
    public void A_heartbeat_creates_or_renews_an_entry_and_silence_past_the_lease_drops_it()
    {
        var leases = new LeaseTable<List<string>>(() => 1000);

        Assert.True(leases.Renew("a", 0, () => ["first"], out var a));
        Assert.False(leases.Renew("a", 500, () => throw new InvalidOperationException("an existing entry is not created again"), out var again));
        Assert.Same(a, again);
        Assert.True(leases.Renew("b", 600, () => ["b"], out var b));
        Assert.Equal(2, leases.Count);

        Assert.Empty(leases.Expire(1500)); // a heard at 500: 1000 ms of silence is still inside the lease
        var expired = leases.Expire(1501);

        Assert.Equal(["a"], expired.Select(e => e.Key));
        Assert.Same(a, expired.Single().Value);
        Assert.Equal(["b"], leases.Keys);
        Assert.Same(b, leases["b"]);
        Assert.False(leases.TryGetValue("a", out _));
        Assert.Equal(["b"], leases.Entries.Single().Value);
    }

    [Fact]
    public void The_lease_is_read_at_each_expiry()
    {
        var lease = 1000L;
        var leases = new LeaseTable<object>(() => lease);
        leases.Renew("a", 0, () => new object(), out _);

        lease = 5000;
        Assert.Empty(leases.Expire(2000));
        lease = 1000;
        Assert.Single(leases.Expire(2000));
        Assert.Equal(0, leases.Count);
    }
}
