// Data helpers more than one sample upstream uses.
import type { Answer, Call, Json } from './service.js'

/** A JSON:API list page as yankes serves it, `?page=N`, with self/first/next/last links. */
export function jsonApiPage (
  call: Call, resource: string, items: Array<{ id: number, attributes: Json }>, perPage = 5
): Answer {
  const totalPages = Math.max(1, Math.ceil(items.length / perPage))
  const requested = Number.parseInt(call.query.get('page') ?? '1', 10)
  const page = Number.isInteger(requested) && requested > 0 ? requested : 1
  const slice = items.slice((page - 1) * perPage, page * perPage)
  const link = (n: number): string => `${call.baseUrl}/${resource}?page=${n}`
  return {
    body: {
      data: slice.map((item) => ({ type: null, id: String(item.id), attributes: item.attributes })),
      meta: {
        pagination: {
          total: items.length, count: slice.length, per_page: perPage, current_page: page, total_pages: totalPages
        }
      },
      links: {
        self: link(page), first: link(1), ...(page < totalPages ? { next: link(page + 1) } : {}), last: link(totalPages)
      }
    }
  }
}

export function byId<T extends { id: number }> (items: readonly T[], id: string | undefined): T | undefined {
  return items.find((item) => String(item.id) === id)
}
