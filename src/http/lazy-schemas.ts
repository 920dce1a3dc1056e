import { createRequire } from 'node:module'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'

// Fastify compiles every route's JSON schemas when the app is built: an Ajv
// validator for each body, querystring and params, and a fast-json-stringify
// serializer for each response, about 60 of them for the admin API and the
// key-request forms. That was most of buildApp's CPU (~100 ms of ~130 ms per
// build), paid at every start for routes most processes never serve. These
// compilers are Fastify's own defaults (the very modules it would load),
// asked for each function on its route's first request instead; the functions,
// and so every validation error and every serialized body, are the same.

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
type ValidatorFactory = NonNullable<CompilersFactory['buildValidator']>
type SerializerFactory = NonNullable<CompilersFactory['buildSerializer']>

interface RouteSchema { schema: unknown, httpPart?: string }
type Validate = ((data: unknown, dataCxt?: unknown) => unknown) & { errors?: unknown, schemaEnv?: unknown }
type Serialize = (...args: unknown[]) => string

type Selector<F> = (externalSchemas: unknown, options: unknown) => (route: RouteSchema) => F

// Fastify's own copies, resolved from where it resolves them.
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'))

/** The compiles not yet done of each factory, then of its app, so a test can run them all (compileAllSchemas). */
const pending = new WeakMap<object, Set<() => void>>()

/** `make`, called once on the first call of the function returned; listed in `waiting` until then. */
function onFirstUse<F> (waiting: Set<() => void>, make: () => F): () => F {
  let made: F | undefined
  const get = (): F => {
    if (made === undefined) {
      made = make()
      waiting.delete(get)
    }
    return made
  }
  waiting.add(get)
  return get
}

/** Fastify's `schemaController.compilersFactory`, compiling each schema on first use. */
export function lazySchemaCompilers (): CompilersFactory {
  const waiting = new Set<() => void>()
  // One pool of each per app, as Fastify makes them (buildSchemaController); loaded with the first compile.
  let defaultValidators: Selector<Validate> | undefined
  let defaultSerializers: Selector<Serialize> | undefined
  const buildValidator = (externalSchemas: unknown, options: unknown) => {
    let compiler: ((route: RouteSchema) => Validate) | undefined
    return (route: RouteSchema): Validate => {
      // Fastify lower-cases a headers schema's names only for its default compiler; none of Gerbang's routes has one.
      if (route.httpPart === 'headers') throw new Error('headers schemas are not supported by the lazy compiler')
      const compile = onFirstUse(waiting, () => {
        defaultValidators ??= (fastifyRequire('@fastify/ajv-compiler') as () => Selector<Validate>)()
        compiler ??= defaultValidators(externalSchemas, options)
        return compiler(route)
      })
      const validate: Validate = (data, dataCxt) => {
        const fn = compile()
        // As Fastify would call the compiled function itself: Ajv's (schemaEnv) get the parent, to coerce the root.
        return fn.schemaEnv !== undefined ? fn(data, dataCxt) : fn(data)
      }
      // Fastify passes the parent (request, part) only to a function with schemaEnv; Ajv's always have one.
      validate.schemaEnv = true
      // Fastify reads the errors of a failed validation from the function it called.
      Object.defineProperty(validate, 'errors', { get: () => compile().errors })
      return validate
    }
  }
  const buildSerializer = (externalSchemas: unknown, options: unknown) => {
    let compiler: ((route: RouteSchema) => Serialize) | undefined
    return (route: RouteSchema): Serialize => {
      const compile = onFirstUse(waiting, () => {
        defaultSerializers ??= (fastifyRequire('@fastify/fast-json-stringify-compiler') as () => Selector<Serialize>)()
        compiler ??= defaultSerializers(externalSchemas, options)
        return compiler(route)
      })
      return (...args) => compile()(...args)
    }
  }
  const factory: CompilersFactory = {
    buildValidator: buildValidator as unknown as ValidatorFactory,
    buildSerializer: buildSerializer as unknown as SerializerFactory
  }
  pending.set(factory, waiting)
  return factory
}

/** Records that `app` was made with `factory`, for compileAllSchemas. */
export function lazySchemasOf (app: FastifyInstance, factory: CompilersFactory): void {
  const waiting = pending.get(factory)
  if (waiting !== undefined) pending.set(app, waiting)
}

/** Compiles every schema of `app` not compiled yet, as its first requests would; throws what a compile throws. */
export function compileAllSchemas (app: FastifyInstance): number {
  const waiting = pending.get(app)
  if (waiting === undefined) throw new Error('this app does not compile its schemas lazily')
  let count = 0
  for (const compile of [...waiting]) {
    compile()
    count++
  }
  return count
}
