using EasyIm.Hosting.Ids;
using EasyIm.UnitTests.Auth;

namespace EasyIm.UnitTests.Hosting;

public class SnowflakeIdsTests
{
    [Fact]
    public void Ids_from_one_node_are_unique_and_increasing_even_within_one_millisecond()
    {
        var ids = new SnowflakeIds(new ManualTime(DateTimeOffset.UtcNow));
        ids.SetNode(7);

        var made = Enumerable.Range(0, 10_000).Select(_ => ids.Next()).ToList();

        Assert.Equal(made.Count, made.Distinct().Count());
        Assert.Equal(made.OrderBy(x => x), made);
        Assert.All(made, id => Assert.Equal(7, (id >> 12) & 0x3FF));
    }

    [Fact]
    public void Ids_keep_increasing_when_the_clock_steps_back()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        var ids = new SnowflakeIds(time);
        ids.SetNode(1);
        var before = ids.Next();

        time.Now -= TimeSpan.FromSeconds(5);

        Assert.True(ids.Next() > before);
    }

    [Fact]
    public void Two_nodes_never_make_the_same_id_at_the_same_instant()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        var a = new SnowflakeIds(time);
        var b = new SnowflakeIds(time);
        a.SetNode(1);
        b.SetNode(2);

        var fromA = Enumerable.Range(0, 1000).Select(_ => a.Next()).ToHashSet();
        var fromB = Enumerable.Range(0, 1000).Select(_ => b.Next());

        Assert.DoesNotContain(fromB, fromA.Contains);
    }

    [Fact]
    public void No_id_is_made_before_a_node_id_is_known()
    {
        var ids = new SnowflakeIds(TimeProvider.System);

        Assert.False(ids.HasNode);
        Assert.Throws<InvalidOperationException>(() => ids.Next());
        Assert.Throws<ArgumentOutOfRangeException>(() => ids.SetNode(1024));
    }
}
