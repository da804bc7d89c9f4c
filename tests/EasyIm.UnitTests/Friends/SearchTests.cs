using EasyIm.Contracts;
using EasyIm.Contracts.Friends;

namespace EasyIm.UnitTests.Friends;

public sealed class SearchTests : IAsyncLifetime
{
    private FriendsHarness _h = null!;

    public async Task InitializeAsync() => _h = await FriendsHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private async Task<IReadOnlyList<UserInfo>> SearchAsync(long me, string keyword, int limit = 20) =>
        (await _h.OkAsync<SearchUsers, UserList>(new SearchUsers(me, keyword, limit))).Items;

    [Fact]
    public async Task Search_finds_account_or_nickname_parts_whatever_the_case_and_never_the_caller()
    {
        var me = await _h.NewUserAsync("searcher_bob", "Bob");
        var byAccount = await _h.NewUserAsync("BobTheBuilder", "Builder");
        var byNickname = await _h.NewUserAsync("someone", "Uncle BOB");
        var unicode = await _h.NewUserAsync("zhang", "小明 Ärger");
        await _h.NewUserAsync("alice", "Alice");

        var bobs = await SearchAsync(me, "bOb");
        var umlaut = await SearchAsync(me, "ärger");
        var chinese = await SearchAsync(me, "小明");

        Assert.Equal([byAccount, byNickname], bobs.Select(u => u.Id).Order());
        Assert.Equal([unicode], umlaut.Select(u => u.Id));
        Assert.Equal([unicode], chinese.Select(u => u.Id));
        var found = bobs.Single(u => u.Id == byAccount);
        Assert.Equal(("BobTheBuilder", "Builder", "/static/avatar.svg"), (found.Account, found.Nickname, found.Avatar));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task An_exact_account_the_projection_has_not_heard_of_is_found_through_auth()
    {
        var me = await _h.NewUserAsync("searcher_new");
        var fresh = await _h.NewUserAsync("Just_Registered", "Newcomer", projected: false);

        var found = await SearchAsync(me, "just_registered");
        var again = await SearchAsync(me, "just_registered");

        Assert.Equal([fresh], found.Select(u => u.Id));
        Assert.Equal("Just_Registered", found[0].Account);
        Assert.Equal([fresh], again.Select(u => u.Id));
        Assert.Equal(1, _h.Auth.Lookups); // the second search is answered by the projection
        await _h.AssertNoFaultsAsync();
    }

    [Theory]
    [InlineData("%")]
    [InlineData("_")]
    [InlineData("'")]
    [InlineData("\"")]
    [InlineData("50%_off")]
    [InlineData("o'brien\"")]
    [InlineData("' OR 1=1 --")]
    [InlineData("\\")]
    public async Task Search_keywords_with_wildcards_quotes_and_sql_find_only_literal_matches(string keyword)
    {
        var me = await _h.NewUserAsync("searcher");
        var literal = await _h.NewUserAsync("lit", $"x{keyword}y");
        await _h.NewUserAsync("plainuser", "nothing special 50 off obrien");
        await _h.NewUserAsync("another", "ab");

        var found = await SearchAsync(me, keyword);

        Assert.Equal([literal], found.Select(u => u.Id));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task The_exact_account_comes_first_then_prefixes_and_the_list_is_limited()
    {
        var me = await _h.NewUserAsync("me_myself");
        var containing = await _h.NewUserAsync("zzz_ann");
        var prefixed = await _h.NewUserAsync("ann_b");
        var exact = await _h.NewUserAsync("ANN");
        for (var i = 0; i < 60; i++)
            await _h.NewUserAsync($"zz{i:D2}", "annie");

        var found = await SearchAsync(me, "ann", limit: 10);
        var capped = await SearchAsync(me, "ann", limit: 1000);

        Assert.Equal(10, found.Count);
        Assert.Equal([exact, prefixed], found.Take(2).Select(u => u.Id));
        // The rest by account: the 60 "annie"s (zz00...) before zzz_ann, which the limit leaves out.
        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"zz{i:D2}"), found.Skip(2).Select(u => u.Account));
        Assert.DoesNotContain(containing, found.Select(u => u.Id));
        Assert.Equal([containing], (await SearchAsync(me, "zzz_")).Select(u => u.Id));
        Assert.Equal(FriendRules.MaxSearchLimit, capped.Count);
        await _h.AssertNoFaultsAsync();
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("12345678901234567890123456789012345678901234567890123456789012345")]
    public async Task A_missing_or_overlong_keyword_is_refused_naming_the_field(string keyword)
    {
        var me = await _h.NewUserAsync();

        var reply = await _h.AskAsync<SearchUsers, UserList>(new SearchUsers(me, keyword, 20));

        Assert.Equal((400, "keyword"), (reply.Rejected?.Code, reply.Rejected?.Field));
        await _h.AssertNoFaultsAsync();
    }
}
