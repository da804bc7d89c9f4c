using EasyIm.Gateway.Connections;

namespace EasyIm.UnitTests.Gateway;

public class ChatRateLimitTests
{
    /// <summary>Tokens accrue with elapsed time, added on each tick; polls the tick until one is there, for at most two seconds.</summary>
    private static bool TokenArrivesAfterTicks(ChatRateLimit limit)
    {
        var deadline = DateTime.UtcNow.AddSeconds(2);
        while (DateTime.UtcNow < deadline)
        {
            limit.Replenish();
            if (limit.TryAcquire())
                return true;
            Thread.Yield();
        }
        return false;
    }

    [Fact]
    public void The_burst_is_allowed_then_refused()
    {
        var limit = new ChatRateLimit(perSecond: 3, burst: 5);

        var burst = Enumerable.Range(0, 5).Select(_ => limit.TryAcquire()).ToList();

        Assert.All(burst, Assert.True);
        Assert.False(limit.TryAcquire());
        Assert.False(limit.TryAcquire());
    }

    [Fact]
    public void Tokens_come_back_only_through_the_tick()
    {
        var limit = new ChatRateLimit(perSecond: 1000, burst: 5);
        for (var i = 0; i < 5; i++)
            limit.TryAcquire();

        Assert.True(TokenArrivesAfterTicks(limit));
    }

    [Fact]
    public void Ticks_never_fill_the_bucket_above_the_burst()
    {
        var limit = new ChatRateLimit(perSecond: 1000, burst: 5);
        limit.TryAcquire();
        Assert.True(TokenArrivesAfterTicks(limit));
        var deadline = DateTime.UtcNow.AddMilliseconds(50);
        while (DateTime.UtcNow < deadline)
            limit.Replenish();

        Assert.Equal(5, Enumerable.Range(0, 8).Count(_ => limit.TryAcquire()));
    }
}
