namespace EasyIm.Contracts.Friends;

public sealed record GroupList(IReadOnlyList<GroupInfo> Items);
