namespace EasyIm.Contracts.Friends;

public sealed record GroupInfo(long Id, string Name, long OwnerId, int MemberCount);
